// The module's options (config: modules.options.webpush), with their defaults and descriptions.
import { z } from 'zod';

export const options = z.object({
  vapid_subject: z
    .string()
    .regex(/^(mailto:\S+@\S+|https:\/\/\S+)$/, 'a mailto: address or an https: URL (RFC 8292 §2.1)')
    .optional()
    .describe("Contact for push services in the VAPID token (RFC 8292 §2.1). Default: mailto:postmaster@<domain>"),
  max_subscriptions_per_user: z
    .number()
    .int()
    .min(0)
    .max(100)
    .default(10)
    .describe('Browsers (push subscriptions) one account may register; past it the oldest is replaced. 0 turns Web Push off'),
  ttl_s: z
    .number()
    .int()
    .min(0)
    .max(2_419_200)
    .default(86_400)
    .describe('How long a push service keeps an undelivered notification (RFC 8030 §5.2 TTL)'),
  timeout_ms: z.number().int().min(100).max(60_000).default(10_000).describe('Time allowed for a push service to answer'),
});

export type WebPushOptions = z.infer<typeof options>;
