// Failures a caller is expected to handle, named by the RFC 6120 §8.3.3 condition the protocol layer answers
// with, so that e.g. XEP-0313 can turn an unknown RSM id (XEP-0059 §2.5) straight into <item-not-found/>.
export type StorageErrorCode = 'item-not-found' | 'conflict';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}
