// Where uploaded files live, behind a small interface so an S3-compatible store can take the place of the disk: a
// file is written once from a stream whose length is known in advance, read as a stream with what the uploader
// declared, and deleted. Nothing is ever held whole in memory.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** What the uploader declared in its slot request (XEP-0363 §4), kept with the file to serve it back. */
export interface StoredFileInfo {
  /** The file name, for Content-Disposition. */
  name: string;
  /** The declared media type; undefined when the request named none. */
  type: string | undefined;
  size: number;
}

export interface StoredFile {
  info: StoredFileInfo;
  body: Readable;
}

export class WrongLength extends Error {
  constructor(readonly reason: 'too-long' | 'too-short') {
    super(reason === 'too-long' ? 'more bytes than announced' : 'fewer bytes than announced');
  }
}

export interface FileStore {
  /**
   * Writes `body` as file `id`, exactly `info.size` bytes: more or fewer reject with WrongLength, and a failed write
   * leaves nothing behind. Rejects too when `id` exists already.
   */
  write(id: string, info: StoredFileInfo, body: Readable): Promise<void>;
  /** The file and its info, or undefined when there is none. */
  read(id: string): Promise<StoredFile | undefined>;
  delete(id: string): Promise<void>;
}

/** Ids are the slot tokens: base64url, nothing that could leave the directory. */
const ID = /^[A-Za-z0-9_-]{16,128}$/;

/** Files under one directory: `<id>` holds the bytes, `<id>.json` the info. */
export class DiskFileStore implements FileStore {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly dir: string) {}

  private path(id: string): string {
    if (!ID.test(id)) throw new Error('invalid file id');
    return join(this.dir, id);
  }

  async write(id: string, info: StoredFileInfo, body: Readable): Promise<void> {
    const path = this.path(id);
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.ready;
    // The info is written first with 'wx': it claims the id, so a second upload to it, even a concurrent one,
    // fails instead of overwriting; the bytes go beside and are renamed into place once complete.
    await writeFile(`${path}.json`, JSON.stringify(info), { flag: 'wx', mode: 0o600 });
    const partial = `${path}.part`;
    try {
      await pipeline(body, limitLength(info.size), createWriteStream(partial, { mode: 0o600 }));
      await rename(partial, path);
    } catch (err) {
      await rm(partial, { force: true });
      await rm(`${path}.json`, { force: true });
      throw err;
    }
  }

  async read(id: string): Promise<StoredFile | undefined> {
    if (!ID.test(id)) return undefined;
    const path = this.path(id);
    try {
      const info = JSON.parse(await readFile(`${path}.json`, 'utf8')) as StoredFileInfo;
      const { size } = await stat(path);
      return { info: { ...info, size }, body: createReadStream(path) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(id: string): Promise<void> {
    const path = this.path(id);
    await rm(path, { force: true });
    await rm(`${path}.json`, { force: true });
  }
}

/** Passes exactly `size` bytes; one more fails at once (the upload is cut off there), fewer fail at the end. */
function limitLength(size: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > size) return done(new WrongLength('too-long'));
      done(null, chunk);
    },
    flush(done) {
      done(seen === size ? null : new WrongLength('too-short'));
    },
  });
}
