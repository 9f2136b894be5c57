// Types for tr46 (UTS #46 processing, by the jsdom project), which ships none.
declare module 'tr46' {
  export interface Uts46Options {
    checkHyphens?: boolean;
    checkBidi?: boolean;
    checkJoiners?: boolean;
    useSTD3ASCIIRules?: boolean;
    transitionalProcessing?: boolean;
    ignoreInvalidPunycode?: boolean;
  }
  export function toASCII(domainName: string, options?: Uts46Options & { verifyDNSLength?: boolean }): string | null;
  export function toUnicode(domainName: string, options?: Uts46Options): { domain: string; error: boolean };
}
