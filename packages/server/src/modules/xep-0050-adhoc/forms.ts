// XEP-0004 forms for XEP-0050 commands: the form an admin fills in is built from the AdminCommand's fields,
// and the submitted form becomes the command's arguments (the same ones the CLI passes).
import { NS, StanzaError, SubmittedForm, Jid, findForm, formElement, xml, type FormField, type XmlElement } from '@parley/protocol';
import type { AdminCommand, CommandArgs, CommandResult } from '../../core/commands';

/** XEP-0133 §3: its forms carry FORM_TYPE http://jabber.org/protocol/admin. */
function formType(node: string): FormField[] {
  return node.startsWith(`${NS.ADMIN}#`) ? [{ var: 'FORM_TYPE', type: 'hidden', values: [NS.ADMIN] }] : [];
}

function badPayload(text: string): StanzaError {
  return new StanzaError('bad-request', text, { appCondition: xml('bad-payload', { xmlns: NS.COMMANDS }) });
}

export function commandForm(command: AdminCommand, node: string, current: CommandArgs = {}): XmlElement {
  const valuesOf = (name: string): string[] | undefined => {
    const v = current[name];
    if (typeof v === 'string') return [v];
    if (typeof v === 'boolean') return [v ? '1' : '0'];
    return v;
  };
  return formElement({
    type: 'form',
    title: command.description,
    instructions: 'Fill out this form and submit it to run the command.',
    fields: [
      ...formType(node),
      ...command.fields.map((f) => ({
        var: f.name,
        type: f.type,
        label: f.label,
        required: f.required,
        options: f.options?.map((value) => ({ value })),
        values: valuesOf(f.name),
      })),
    ],
  });
}

export function resultForm(command: AdminCommand, fields: NonNullable<CommandResult['fields']>): XmlElement {
  return formElement({
    type: 'result',
    title: command.description,
    fields: [...formType(command.node ?? ''), ...fields.map((f) => ({ var: f.name, label: f.label, values: f.values }))],
  });
}

/** The submitted form as command arguments; XEP-0050 §4.4 bad-payload when it is missing or incomplete. */
export function argsFromForm(command: AdminCommand, payload: XmlElement): CommandArgs {
  const x = findForm(payload);
  // XEP-0050 §3.4.1 (use of data forms): a 'cancel' form counts as a submission.
  if (!x || (x.attrs.type !== 'submit' && x.attrs.type !== 'cancel')) throw badPayload('expected a submitted data form');
  const form = SubmittedForm.parse(x);
  const args: CommandArgs = {};
  for (const f of command.fields) {
    const raw = form.list(f.name) ?? [];
    // Blank lines belong to a text-multi value (XEP-0004 §3.3: one value per line); elsewhere blank is absent.
    const values = f.type === 'text-multi' ? raw : raw.filter((v) => v !== '');
    if (values.every((v) => v === '')) {
      if (f.required) throw badPayload(`the field '${f.label}' (${f.name}) is required`);
      continue;
    }
    if (f.type === 'jid-single' || f.type === 'jid-multi') {
      for (const v of values) if (Jid.tryParse(v) === undefined) throw badPayload(`${f.name}: '${v}' is not a valid JID`);
    }
    if (f.type === 'boolean') args[f.name] = form.boolean(f.name);
    else if (f.type === 'jid-multi' || f.type === 'text-multi') args[f.name] = values;
    else args[f.name] = values[0];
  }
  return args;
}
