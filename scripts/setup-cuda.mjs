// Fetch onnxruntime-node's CUDA 12 execution provider (needs internet and an NVIDIA GPU with CUDA 12 + cuDNN 9).
// `npm ci` skips this download on purpose (see .npmrc) so installs work offline; this runs the package's own
// installer with the CUDA 12 manifest instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`onnxruntime-node ships its CUDA provider for linux/x64 only; this is ${process.platform}/${process.arch}.`);
  process.exit(1);
}
const require = createRequire(import.meta.url);
const ortDir = dirname(require.resolve('onnxruntime-node/package.json'));
// The installer reads ONNXRUNTIME_NODE_INSTALL before npm's config variable, which .npmrc sets to `skip`.
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' };
const { status } = spawnSync(process.execPath, [join(ortDir, 'script', 'install.js')], { stdio: 'inherit', env });
const provider = join(ortDir, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so');
if (status !== 0 || !existsSync(provider)) {
  console.error('Could not install the CUDA provider. It is downloaded from the NuGet feed (package');
  console.error('Microsoft.ML.OnnxRuntime.Gpu.Linux); behind a proxy set GLOBAL_AGENT_HTTPS_PROXY.');
  process.exit(status || 1);
}
console.error(`CUDA provider installed in ${dirname(provider)}. Run with ENGINE_DEVICE=cuda.`);
