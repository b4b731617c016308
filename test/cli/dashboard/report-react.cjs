/* global process, require */
// Preloaded with `node --require`: on exit, says on stderr whether react (which ink needs) was loaded.
process.on('exit', () => {
  const loaded = Object.keys(require.cache).some((k) => /[\\/]node_modules[\\/]react[\\/]/.test(k));
  process.stderr.write(`react loaded: ${loaded}\n`);
});
