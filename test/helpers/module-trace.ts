/**
 * NODE_OPTIONS that make a Node process (and every Node process it starts)
 * append the URL of each module it resolves to a file, so a test can check
 * what a command loads. `fileExpr` is a JavaScript expression evaluated in
 * that process, e.g. JSON.stringify(path) or `${JSON.stringify(prefix)} + process.pid`.
 */
export function moduleTraceNodeOptions(fileExpr: string): string {
  const hooks = `data:text/javascript,${encodeURIComponent(
    `import { appendFileSync } from 'node:fs';
     export async function resolve(spec, ctx, next) {
       const r = await next(spec, ctx);
       appendFileSync(${fileExpr}, r.url + '\\n');
       return r;
     }`,
  )}`;
  const preload = `data:text/javascript,${encodeURIComponent(
    `import { register } from 'node:module'; register(${JSON.stringify(hooks)});`,
  )}`;
  return `--import=${preload}`;
}
