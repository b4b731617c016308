/**
 * The URL a process on this host reaches the node's API at: a wildcard bind
 * (0.0.0.0, [::]) is reached over loopback.
 */
export function localApiUrl(api: string): string {
  return `http://${api.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:')}`;
}
