// The module's options (config: modules.options.sm), with their defaults and descriptions.
import { z } from 'zod';

export const options = z.object({
  resume_timeout_s: z
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(300)
    .describe("Seconds a session whose connection dropped waits to be resumed (XEP-0198 §5); a client's 'max' can only shorten it; 0 turns resumption off"),
  request_ack_every: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(1)
    .describe('Ask the client to acknowledge (<r/>) once this many stanzas wait for it, at most one request outstanding'),
  max_unacked: z
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('Unacknowledged stanzas kept per session; past it the session ends (resource-constraint) and they are routed elsewhere'),
  max_hibernating: z
    .number()
    .int()
    .min(0)
    .default(1000)
    .describe('Sessions waiting to be resumed at once, server-wide; past it the longest-waiting ends. They count as sessions toward c2s.max_connections'),
  max_hibernating_per_account: z
    .number()
    .int()
    .min(0)
    .default(10)
    .describe('Sessions of one account waiting to be resumed at once; past it that account’s longest-waiting ends'),
});
export type SmOptions = z.infer<typeof options>;
