// Bundles each k6 entry point into dist/ as one ES module; k6 resolves its own `k6*` modules.
import { build } from 'esbuild';

const entries = ['normal-traffic', 'peak-traffic'];

await build({
  entryPoints: entries.map((name) => `src/${name}.ts`),
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2020',
  external: ['k6', 'k6/*'],
  sourcemap: 'inline',
  logLevel: 'info',
});
