// XEP-0045 §10.2 room configuration: the muc#roomconfig form (§15.5.3 field registry) an owner gets, and the
// validation of the submitted one. Unknown fields and invalid values are rejected, never half-applied.
import { NS, StanzaError, formElement, SubmittedForm, type FormField, type XmlElement } from '@parley/protocol';
import { type PmPolicy, type Role, type RoomConfig } from './room';

const F = 'muc#roomconfig_';
const PM: readonly PmPolicy[] = ['anyone', 'participants', 'moderators', 'none'];
const MEMBERLIST_ROLES: readonly Role[] = ['moderator', 'participant', 'visitor'];

const bool = (v: boolean): string[] => [v ? '1' : '0'];

export function configForm(config: RoomConfig, roomJid: string): XmlElement {
  const fields: FormField[] = [
    { var: 'FORM_TYPE', type: 'hidden', values: [NS.MUC_ROOMCONFIG] },
    { var: `${F}roomname`, type: 'text-single', label: 'Name', values: [config.name] },
    { var: `${F}roomdesc`, type: 'text-single', label: 'Description', values: [config.description] },
    { var: `${F}persistentroom`, type: 'boolean', label: 'Make room persistent', values: bool(config.persistent) },
    { var: `${F}publicroom`, type: 'boolean', label: 'Make room publicly searchable', values: bool(config.public) },
    { var: `${F}membersonly`, type: 'boolean', label: 'Make room members-only', values: bool(config.membersOnly) },
    { var: `${F}moderatedroom`, type: 'boolean', label: 'Make room moderated', values: bool(config.moderated) },
    { var: `${F}passwordprotectedroom`, type: 'boolean', label: 'Password required to enter', values: bool(config.passwordProtected) },
    { var: `${F}roomsecret`, type: 'text-private', label: 'Password', values: [config.password] },
    {
      var: `${F}whois`,
      type: 'list-single',
      label: 'Who may discover real JIDs?',
      values: [config.whois],
      options: [
        { label: 'Moderators only', value: 'moderators' },
        { label: 'Anyone', value: 'anyone' },
      ],
    },
    { var: `${F}changesubject`, type: 'boolean', label: 'Allow occupants to change the subject', values: bool(config.changeSubject) },
    { var: `${F}allowinvites`, type: 'boolean', label: 'Allow occupants to invite others', values: bool(config.allowInvites) },
    {
      var: `${F}allowpm`,
      type: 'list-single',
      label: 'Who may send private messages?',
      values: [config.allowPm],
      options: PM.map((value) => ({ value })),
    },
    {
      var: `${F}maxusers`,
      type: 'list-single',
      label: 'Maximum number of occupants',
      values: [config.maxUsers === 0 ? 'none' : String(config.maxUsers)],
      options: ['10', '20', '30', '50', '100', 'none'].map((value) => ({ value })),
    },
    { var: `${F}historylength`, type: 'text-single', label: 'Messages of history kept', values: [String(config.historyLength)] },
    {
      var: `${F}getmemberlist`,
      type: 'list-multi',
      label: 'Roles that may retrieve the member list',
      values: config.getMemberList,
      options: MEMBERLIST_ROLES.map((value) => ({ value })),
    },
    { var: `${F}enablelogging`, type: 'boolean', label: 'Enable public logging', values: bool(config.enableLogging) },
  ];
  return formElement({ type: 'form', title: `Configuration for ${roomJid}`, fields });
}

const KNOWN = [
  'roomname', 'roomdesc', 'persistentroom', 'publicroom', 'membersonly', 'moderatedroom', 'passwordprotectedroom',
  'roomsecret', 'whois', 'changesubject', 'allowinvites', 'allowpm', 'maxusers', 'historylength', 'getmemberlist',
  'enablelogging',
].map((n) => F + n);

function oneOf<T extends string>(form: SubmittedForm, name: string, allowed: readonly T[]): T | undefined {
  const v = form.list(name);
  if (v === undefined) return undefined;
  if (v.length !== 1 || !allowed.includes(v[0] as T)) throw new StanzaError('not-acceptable', `field ${name}: invalid value`);
  return v[0] as T;
}

/**
 * Applies a submitted form to a copy of the configuration (§10.2). Fields left out keep their value.
 * A wrong FORM_TYPE is bad-request; an unknown field or an invalid value is not-acceptable.
 */
export function applyConfigForm(x: XmlElement, current: RoomConfig, maxHistory: number): RoomConfig {
  const form = SubmittedForm.parse(x);
  const formType = form.formType;
  if (formType !== undefined && formType !== NS.MUC_ROOMCONFIG) throw new StanzaError('bad-request', 'FORM_TYPE must be muc#roomconfig');
  // Clients may send muc#maxhistoryfetch (§15.5.3) for the history length; accept it as an alias.
  form.assertKnown([...KNOWN, 'muc#maxhistoryfetch']);
  const c: RoomConfig = { ...current, getMemberList: [...current.getMemberList] };
  const text = (n: string) => form.text(F + n);
  const b = (n: string) => form.boolean(F + n);
  c.name = text('roomname') ?? c.name;
  c.description = text('roomdesc') ?? c.description;
  c.persistent = b('persistentroom') ?? c.persistent;
  c.public = b('publicroom') ?? c.public;
  c.membersOnly = b('membersonly') ?? c.membersOnly;
  c.moderated = b('moderatedroom') ?? c.moderated;
  c.passwordProtected = b('passwordprotectedroom') ?? c.passwordProtected;
  c.password = text('roomsecret') ?? c.password;
  c.whois = oneOf(form, `${F}whois`, ['moderators', 'anyone'] as const) ?? c.whois;
  c.changeSubject = b('changesubject') ?? c.changeSubject;
  c.allowInvites = b('allowinvites') ?? c.allowInvites;
  c.allowPm = oneOf(form, `${F}allowpm`, PM) ?? c.allowPm;
  const maxUsers = form.list(`${F}maxusers`);
  if (maxUsers !== undefined) {
    const v = maxUsers[0] ?? 'none';
    if (v === 'none' || v === '' || v === '0') c.maxUsers = 0;
    else c.maxUsers = form.integer(`${F}maxusers`, 1, 1_000_000)!;
  }
  const hist = form.has(`${F}historylength`) ? `${F}historylength` : form.has('muc#maxhistoryfetch') ? 'muc#maxhistoryfetch' : undefined;
  if (hist) c.historyLength = form.integer(hist, 0, maxHistory) ?? c.historyLength;
  const roles = form.list(`${F}getmemberlist`);
  if (roles !== undefined) {
    for (const r of roles) if (!MEMBERLIST_ROLES.includes(r as Role)) throw new StanzaError('not-acceptable', `field ${F}getmemberlist: invalid role ${r}`);
    c.getMemberList = roles as Role[];
  }
  c.enableLogging = b('enablelogging') ?? c.enableLogging;
  // §10.2: a password-protected room needs a password.
  if (c.passwordProtected && c.password === '') throw new StanzaError('not-acceptable', 'a password-protected room needs a password');
  if (!c.passwordProtected) c.password = '';
  return c;
}

/** §10.2.1: status codes telling occupants what kind of change happened. */
export function configChangeCodes(before: RoomConfig, after: RoomConfig): number[] {
  const codes: number[] = [];
  if (!before.enableLogging && after.enableLogging) codes.push(170);
  if (before.enableLogging && !after.enableLogging) codes.push(171);
  if (before.whois !== 'anyone' && after.whois === 'anyone') codes.push(172);
  if (before.whois === 'anyone' && after.whois !== 'anyone') codes.push(173);
  const privacy = new Set(['enableLogging', 'whois']);
  const changed = (Object.keys(after) as (keyof RoomConfig)[]).some(
    (k) => !privacy.has(k) && JSON.stringify(before[k]) !== JSON.stringify(after[k]),
  );
  if (changed) codes.push(104);
  return codes;
}
