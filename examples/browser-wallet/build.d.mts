/** Minified and gzipped sizes of one bundle, bytes. */
export interface BundleSize {
  minified: number;
  gzipped: number;
}

/** Bundles the browser wallet page (index.html, main.js) into `outdir`; resolves with the bundle's path. */
export function buildWallet(outdir: string): Promise<string>;

/** Sizes of the whole wallet page bundle and of `MailboxClient` alone. */
export function bundleSizes(): Promise<{ wallet: BundleSize; mailboxClient: BundleSize }>;
