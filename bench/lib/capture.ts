/**
 * Preloaded (`node --import ./bench/lib/capture.ts bench/micro/x.bench.ts`) by the bench runner:
 * redirects every `import … from 'mitata'` to `mitata-shim.ts`, whose `run()` also writes the
 * results as JSON. The bench files stay plain mitata scripts that anyone can run directly.
 */
import { registerHooks } from 'node:module';

const shim = new URL('./mitata-shim.ts', import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === 'mitata' && context.parentURL !== shim) return { url: shim, shortCircuit: true };
    return nextResolve(specifier, context);
  },
});
