// XEP-0313 §4 query parsing: the XEP-0004 filter form (§4.1: with, start, end; #extended before-id, after-id,
// ids), XEP-0059 result set management (<max/>, <after/>, <before/>) and #extended <flip-page/>. Bad values are
// bad-request, fields we do not know feature-not-implemented (§4.1.5).
import { Jid, NS, StanzaError, SubmittedForm, findForm, formElement, xml, type XmlElement } from '@parley/protocol';

export interface MamQuery {
  queryid?: string;
  with?: Jid;
  /** Inclusive bounds, ms since the epoch (§4.1.2). */
  start?: number;
  end?: number;
  /** #extended §4.1.3: a range between known ids, in the archive's order (no backward paging implied). */
  afterId?: string;
  beforeId?: string;
  ids?: string[];
  /** XEP-0059 §2.1: requested page size; undefined when the client gave none. */
  max?: number;
  after?: string;
  /** XEP-0059 §2.5: '' (an empty <before/>) asks for the last page. */
  before?: string;
  /** #extended §4.3.4: send the page newest first; the page itself is unchanged. */
  flip: boolean;
}

const FIELDS = new Set(['with', 'start', 'end', 'before-id', 'after-id', 'ids']);

/** XEP-0082 §3.3 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD (seconds are optional in the wild). */
const DATETIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)$/;

function dateTime(form: SubmittedForm, name: string): number | undefined {
  const v = single(form, name);
  if (v === undefined) return undefined;
  const t = DATETIME.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new StanzaError('bad-request', `field ${name}: not a XEP-0082 DateTime`);
  return t;
}

/** One value; an empty field is treated as absent. */
function single(form: SubmittedForm, name: string): string | undefined {
  const values = form.list(name);
  if (values === undefined || values.length === 0 || (values.length === 1 && values[0] === '')) return undefined;
  if (values.length > 1) throw new StanzaError('bad-request', `field ${name}: a single value expected`);
  return values[0]!.trim();
}

function rsmInt(set: XmlElement, name: string): number | undefined {
  const v = set.getChildText(name);
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v.trim())) throw new StanzaError('bad-request', `<${name}/> must be a non-negative integer`);
  return Number(v.trim());
}

export function parseMamQuery(query: XmlElement): MamQuery {
  const q: MamQuery = { flip: query.getChild('flip-page') !== undefined };
  if (query.attrs.queryid !== undefined) q.queryid = query.attrs.queryid;
  const formEl = findForm(query);
  if (formEl) {
    const form = SubmittedForm.parse(formEl);
    if (form.type !== 'submit' && form.type !== 'form') throw new StanzaError('bad-request', 'expected a submitted form');
    // §4.1: FORM_TYPE is urn:xmpp:mam:2 (tolerated when missing, wrong otherwise).
    if (form.formType !== undefined && form.formType !== NS.MAM) throw new StanzaError('bad-request', `FORM_TYPE must be ${NS.MAM}`);
    for (const name of form.values.keys()) {
      // §4.1.5: an unknown field is feature-not-implemented.
      if (name !== 'FORM_TYPE' && !FIELDS.has(name)) throw new StanzaError('feature-not-implemented', `unsupported field ${name}`);
    }
    const w = single(form, 'with');
    if (w !== undefined) {
      const jid = Jid.tryParse(w);
      if (!jid) throw new StanzaError('bad-request', 'field with: not a JID');
      q.with = jid;
    }
    q.start = dateTime(form, 'start');
    q.end = dateTime(form, 'end');
    q.afterId = single(form, 'after-id');
    q.beforeId = single(form, 'before-id');
    const ids = form.list('ids')?.map((s) => s.trim()).filter((s) => s !== '');
    if (ids && ids.length > 0) q.ids = ids;
  }
  const set = query.getChild('set', NS.RSM);
  if (set) {
    q.max = rsmInt(set, 'max');
    const after = set.getChild('after');
    if (after) {
      q.after = after.text().trim();
      if (q.after === '') throw new StanzaError('bad-request', '<after/> needs an id');
    }
    const before = set.getChild('before');
    if (before) q.before = before.text().trim();
    // XEP-0059 §2.6 page by index is not supported by id-based archives.
    if (set.getChild('index')) throw new StanzaError('feature-not-implemented', 'paging by index is not supported');
  }
  return q;
}

/** §4.1.5: the fields we understand; 'ids' is open (XEP-0122) rather than a list of every id. */
export function queryForm(): XmlElement {
  const form = formElement({
    type: 'form',
    fields: [
      { var: 'FORM_TYPE', type: 'hidden', values: [NS.MAM] },
      { var: 'with', type: 'jid-single' },
      { var: 'start', type: 'text-single' },
      { var: 'end', type: 'text-single' },
      { var: 'before-id', type: 'text-single' },
      { var: 'after-id', type: 'text-single' },
      { var: 'ids', type: 'list-multi' },
    ],
  });
  const ids = form.getChildren('field').find((f) => f.attrs.var === 'ids')!;
  ids.append(xml('validate', { xmlns: NS.XDATA_VALIDATE, datatype: 'xs:string' }, xml('open')));
  return xml('query', { xmlns: NS.MAM }, form);
}
