// XEP-0363 HTTP File Upload (v1.1) on upload.<domain>: a user asks for a slot (§4) for a file of a given name, size
// and type, and gets two unguessable URLs on Parley's HTTP server: one to PUT the file once, one to GET it. The
// limit is announced in disco (§3, XEP-0128 form) and enforced on the slot request and again while the bytes
// stream to disk. Files count against a per-user quota and expire after a configured number of days.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { NS, StanzaError, xml } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { DiskFileStore, WrongLength, type FileStore } from './file-store';
import { options, type UploadOptions } from './options';
import { CORS, MEDIA_TYPE, fileHeaders, replyText } from './serve';

/** A slot given out and not yet used (§4): the one upload it allows. */
interface Slot {
  owner: string;
  name: string;
  size: number;
  type: string | undefined;
  expires: number;
  uploading: boolean;
}

/** What the database keeps of an uploaded file, per user: for the quota and the expiry sweep. */
interface UploadRecord {
  size: number;
  at: number;
}

const PATH_PREFIX = '/upload/';
/** Slots one user may hold open at once, whatever their size: each is memory until it expires. */
const MAX_OPEN_SLOTS_PER_USER = 50;
/** File names: what a client may say, without path separators or control characters. */
const BAD_NAME = /[/\\\u0000-\u001f\u007f]/;

export default defineModule<UploadOptions>({
  name: 'upload',
  specs: [{ spec: 'XEP-0363', version: '1.1.0', status: 'complete', note: 'no custom PUT headers; files kept under <data_dir>/upload' }],
  options: options as unknown as z.ZodType<UploadOptions>,
  setup(ctx) {
    const { server } = ctx;
    const address = server.config.services.upload;
    if (address === false) return;
    const o = ctx.options;
    const files: FileStore = new DiskFileStore(join(server.config.data_dir, 'upload'));
    const records = ctx.map<UploadRecord>('upload');
    const slots = new Map<string, Slot>();
    const service = ctx.service(address, { category: 'store', type: 'file', name: 'HTTP File Upload' });

    // §3: the size limit in a XEP-0128 form on the service's disco#info.
    service.info.forms.push(() =>
      xml(
        'x',
        { xmlns: NS.DATA, type: 'result' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', null, NS.HTTP_UPLOAD)),
        xml('field', { var: 'max-file-size' }, xml('value', null, String(o.max_file_size))),
      ),
    );

    const baseUrl = (): string => {
      if (o.base_url) return o.base_url.replace(/\/$/, '');
      const port = ctx.http.ports?.https ?? server.config.http.tls_port;
      return `https://${server.domain}${port === 443 ? '' : `:${port}`}`;
    };

    // §4: a slot request.
    service.iq.get(NS.HTTP_UPLOAD, 'request', { to: ['host'] }, async ({ from, payload }) => {
      // Only our own users may store files here, or the server hosts files for the whole network.
      if (from.domain !== server.domain || from.local === undefined) throw new StanzaError('forbidden', 'uploads are for users of this server');
      const name = payload.attrs.filename;
      const sizeText = payload.attrs.size;
      const type = payload.attrs['content-type'];
      if (!name || name.length > 255 || BAD_NAME.test(name)) throw new StanzaError('bad-request', 'a file name without slashes or control characters is required');
      if (!sizeText || !/^\d{1,15}$/.test(sizeText) || Number(sizeText) === 0) throw new StanzaError('bad-request', 'size must be a positive number of bytes');
      if (type !== undefined && !MEDIA_TYPE.test(type)) throw new StanzaError('bad-request', 'content-type must be a media type');
      const size = Number(sizeText);
      // §4.2: too large, with the limit.
      if (size > o.max_file_size) {
        throw new StanzaError('not-acceptable', `File too large. The maximum file size is ${o.max_file_size} bytes`, {
          type: 'modify',
          appCondition: xml('file-too-large', { xmlns: NS.HTTP_UPLOAD }, xml('max-file-size', null, String(o.max_file_size))),
        });
      }
      const owner = from.toBareString();
      const open = [...slots.values()].filter((s) => s.owner === owner && s.expires > Date.now());
      if (open.length >= MAX_OPEN_SLOTS_PER_USER) throw new StanzaError('resource-constraint', 'too many uploads in progress');
      if (o.quota_bytes > 0) {
        const used = [...(await records.getAll(owner)).values()].reduce((n, r) => n + r.size, 0) + open.reduce((n, s) => n + s.size, 0);
        if (used + size > o.quota_bytes) {
          throw new StanzaError('resource-constraint', `Quota reached: ${used} of ${o.quota_bytes} bytes in use`, { type: 'wait' });
        }
      }
      // An unguessable URL: 192 random bits.
      const token = randomBytes(24).toString('base64url');
      slots.set(token, { owner, name, size, type, expires: Date.now() + o.slot_timeout_s * 1000, uploading: false });
      const url = `${baseUrl()}${PATH_PREFIX}${token}/${encodeURIComponent(name)}`;
      return xml('slot', { xmlns: NS.HTTP_UPLOAD }, xml('put', { url }), xml('get', { url }));
    });

    /** The slot token of a request path /upload/<token>/<name>. */
    const tokenOf = (path: string): string | undefined => /^\/upload\/([A-Za-z0-9_-]{32})\/[^/]+$/.exec(path)?.[1];

    // §5: the upload. One PUT per slot, exactly the announced size and type, before the slot expires; the body is
    // streamed to the store and cut off at the first byte beyond the announced size.
    ctx.http.route('PUT', `${PATH_PREFIX}*`, async (req: IncomingMessage, res: ServerResponse, info) => {
      const token = tokenOf(info.path);
      const slot = token === undefined ? undefined : slots.get(token);
      if (!slot || slot.expires < Date.now()) {
        req.resume();
        // A used slot is gone from the table: the file is there, and uploading it again conflicts.
        if (token !== undefined && !slot && (await files.read(token).then((f) => (f?.body.destroy(), f !== undefined)))) {
          return replyText(res, 409, 'This file was uploaded already');
        }
        return replyText(res, 403, 'No such upload slot, or it expired');
      }
      if (slot.uploading) return replyText(res, 409, 'This file is being uploaded');
      const length = req.headers['content-length'];
      if (length === undefined) return replyText(res, 411, 'Content-Length is required');
      if (length !== String(slot.size)) {
        req.resume();
        return replyText(res, 400, `Content-Length must be the size announced in the slot request (${slot.size})`);
      }
      const sentType = req.headers['content-type'];
      if (slot.type !== undefined && sentType?.toLowerCase() !== slot.type.toLowerCase()) {
        req.resume();
        return replyText(res, 400, `Content-Type must be the one announced in the slot request (${slot.type})`);
      }
      slot.uploading = true;
      try {
        await files.write(token!, { name: slot.name, type: slot.type, size: slot.size }, req);
      } catch (err) {
        slot.uploading = false;
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return replyText(res, 409, 'This file was uploaded already');
        if (err instanceof WrongLength) {
          replyText(res, err.reason === 'too-long' ? 413 : 400, `The body must be exactly ${slot.size} bytes`);
          // What the client still sends is not read: the connection goes once the answer is out.
          res.once('finish', () => req.destroy());
          return;
        }
        if (req.destroyed || req.readableAborted) return; // the client went away mid-upload
        throw err;
      }
      slots.delete(token!);
      await records.set(slot.owner, token!, { size: slot.size, at: Date.now() });
      res.writeHead(201, { ...CORS, 'Content-Length': 0 });
      res.end();
    });

    ctx.http.route('GET', `${PATH_PREFIX}*`, async (req, res, info) => {
      const token = tokenOf(info.path);
      const file = token === undefined ? undefined : await files.read(token);
      if (!file) return replyText(res, 404, 'Not Found');
      res.writeHead(200, fileHeaders(file.info));
      if (req.method === 'HEAD') {
        file.body.destroy();
        return void res.end();
      }
      await pipeline(file.body, res).catch(() => {}); // a client that stops reading is no error of ours
    });

    // A preflight for a cross-origin PUT with a Content-Type (Fetch standard, CORS protocol).
    ctx.http.route('OPTIONS', `${PATH_PREFIX}*`, (_req, res) => {
      res.writeHead(204, CORS);
      res.end();
    });

    /** Deletes expired files and forgets unused slots; files of a deleted account go too. */
    async function sweep(): Promise<void> {
      const now = Date.now();
      for (const [token, slot] of slots) if (slot.expires < now && !slot.uploading) slots.delete(token);
      if (o.expire_after_days === 0) return;
      const cutoff = now - o.expire_after_days * 86_400_000;
      for (const owner of await records.owners()) {
        for (const [token, record] of await records.getAll(owner)) {
          if (record.at >= cutoff) continue;
          await files.delete(token);
          await records.set(owner, token, undefined);
        }
      }
    }
    let sweeping: Promise<void> | undefined;
    const timer = setInterval(() => {
      sweeping ??= sweep()
        .catch((err: unknown) => ctx.log.error({ err }, 'upload: sweeping expired files failed'))
        .finally(() => (sweeping = undefined));
    }, o.sweep_interval_s * 1000);
    timer.unref();

    ctx.on('account/deleted', async ({ jid }) => {
      const owner = jid.toBareString();
      for (const token of (await records.getAll(owner)).keys()) await files.delete(token);
      await records.deleteAll(owner);
    });

    ctx.onStop(async () => {
      clearInterval(timer);
      await sweeping;
    });
  },
});
