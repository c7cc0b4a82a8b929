/** The global the `/sdk.js` script tag exposes. */
type VariantLensGlobal = typeof import('../../client-sdk/src/script-tag.js');

declare global {
  interface Window {
    VariantLens?: VariantLensGlobal;
  }
}

export {};
