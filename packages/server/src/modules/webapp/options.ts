// The module's options (config: modules.options.webapp), with their defaults and descriptions.
import { z } from 'zod';

export const options = z.object({
  dir: z
    .string()
    .min(1)
    .optional()
    .describe("Directory of the built chat app (index.html, assets/). Default: packages/web/dist of this install, built by 'npm install'"),
});

export type WebAppOptions = z.infer<typeof options>;
