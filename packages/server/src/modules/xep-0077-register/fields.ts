// XEP-0077 §3.1 and §4: the registration fields, as plain children of <query/> or as a XEP-0004 data form.
// A form takes precedence over the plain fields (XEP-0077 §6), so a submitted form is read first.
import { NS, StanzaError, XmlElement, xml } from '@parley/protocol';

export interface RegistrationFields {
  username: string | undefined;
  password: string | undefined;
}

export function readFields(query: XmlElement): RegistrationFields {
  const form = query.getChild('x', NS.DATA);
  if (form && form.attrs.type === 'submit') {
    const value = (name: string) => form.getChildren('field').find((f) => f.attrs.var === name)?.getChildText('value');
    return { username: value('username'), password: value('password') };
  }
  return { username: query.getChildText('username', NS.REGISTER), password: query.getChildText('password', NS.REGISTER) };
}

const INSTRUCTIONS = 'Choose a username and password to register with this server.';

/** XEP-0077 §3.1 Example 2 plus the equivalent form (§4 rule 3: the form carries every iq:register field). */
export function registrationFields(): XmlElement {
  return xml(
    'query',
    { xmlns: NS.REGISTER },
    xml('instructions', null, INSTRUCTIONS),
    xml('username'),
    xml('password'),
    xml(
      'x',
      { xmlns: NS.DATA, type: 'form' },
      xml('title', null, 'Account registration'),
      xml('instructions', null, INSTRUCTIONS),
      xml('field', { type: 'hidden', var: 'FORM_TYPE' }, xml('value', null, NS.REGISTER)),
      xml('field', { type: 'text-single', var: 'username', label: 'Username' }, xml('required')),
      xml('field', { type: 'text-private', var: 'password', label: 'Password' }, xml('required')),
    ),
  );
}

/**
 * An error reply without the request's payload: XEP-0077 §3.3 says not to echo password changes, and the same
 * holds for registrations, whose payload also carries a password (error stanzas end up in client logs).
 */
export function errorWithoutPayload(iq: XmlElement, error: StanzaError): XmlElement {
  return xml('iq', { type: 'error', id: iq.attrs.id }, error.toElement());
}
