// The module's options (config: modules.options.upload), with their defaults and descriptions.
import { z } from 'zod';

export const options = z.strictObject({
  max_file_size: z
    .number()
    .int()
    .min(1)
    .default(100 * 1024 * 1024)
    .describe('Largest file accepted, in bytes; announced in disco (XEP-0363 §3, max-file-size) and larger requests get file-too-large'),
  quota_bytes: z
    .number()
    .int()
    .min(0)
    .default(1024 * 1024 * 1024)
    .describe('Bytes one user may keep uploaded (unexpired files and open slots together); 0: no limit'),
  expire_after_days: z
    .number()
    .min(0)
    .default(30)
    .describe('Days an uploaded file is kept before the periodic sweep deletes it (fractions allowed); 0 keeps files forever'),
  sweep_interval_s: z.number().int().min(1).default(3600).describe('Seconds between sweeps for expired files and unused slots'),
  slot_timeout_s: z.number().int().min(10).default(300).describe('Seconds a slot may be used for its one upload after it was given out'),
  base_url: z
    .string()
    .regex(/^https?:\/\/[^/\s?#]+(\/[^\s?#]*)?$/, 'an http:// or https:// URL without query or fragment')
    .optional()
    .describe('Public URL under which the HTTP server is reached, e.g. https://upload.example.org (behind a proxy). Default: https://<domain>:<http.tls_port>'),
});
export type UploadOptions = z.output<typeof options>;
