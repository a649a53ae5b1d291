/** What the landing page shows: each link only when its route is served. */
export interface LandingLinks {
  apiDocs: boolean;
  /** `/metrics` on this port, on another port (its number), or not at all. */
  metrics: 'here' | number | false;
  wsPath: string;
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; padding: 0 1rem; color: #1d232b; }
  h1 { font-size: 1.6rem; margin-bottom: .25rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
  p.lead { color: #4b5563; margin-top: 0; }
  ul { padding-left: 1.2rem; } li { margin: .3rem 0; }
  code { background: #f1f3f5; padding: .1rem .3rem; border-radius: 3px; font-size: .92em; }
  pre { background: #f1f3f5; padding: .8rem 1rem; border-radius: 4px; overflow-x: auto; }
  a { color: #1c64c8; }`;

/** The page at `/`: what the service is and where each of its documents and endpoints lives. */
export function landingPage(links: LandingLinks): string {
  const item = (href: string, text: string, note: string) => `<li><a href="${href}">${text}</a> — ${note}</li>`;
  const documents = [
    links.apiDocs ? item('/api/docs', 'REST API', 'the OpenAPI document, browsable') : '',
    links.apiDocs ? item('/api/docs-json', 'OpenAPI JSON', 'the same document, for tools and code generators') : '',
    links.apiDocs ? item('/api/asyncapi.yaml', 'WebSocket protocol', 'the AsyncAPI 3 document: every frame, error and close code') : '',
  ].join('');
  const metrics =
    links.metrics === 'here'
      ? item('/metrics', 'Metrics', 'Prometheus text format')
      : typeof links.metrics === 'number'
        ? `<li>Metrics — Prometheus text format at <code>/metrics</code> on port ${links.metrics}</li>`
        : '';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>chat-gateway</title><style>${STYLE}</style></head>
<body>
<h1>chat-gateway</h1>
<p class="lead">The real-time side of a chat app: clients connect over WebSocket with their JWT, join rooms,
send messages, see each other typing and online, and get every message exactly once and in order, also across reconnects.</p>
<h2>Try it</h2>
<ul>${item('/demo', 'Demo', 'two users chatting in the browser')}</ul>
<h2>Documents</h2>
<ul>${documents || '<li>The API documents are turned off on this instance (<code>API_DOCS_ENABLED</code>).</li>'}</ul>
<h2>Connecting</h2>
<pre>ws://&lt;this host&gt;${links.wsPath}?token=&lt;jwt&gt;</pre>
<p>or send the token as <code>Authorization: Bearer &lt;jwt&gt;</code>, or as the subprotocol <code>access_token, &lt;jwt&gt;</code>.</p>
<h2>Operations</h2>
<ul>
${item('/health/live', 'Liveness', 'the process answers')}
${item('/health/ready', 'Readiness', '503 with the reason while Redis is unreachable or the instance is draining')}
${metrics}
</ul>
</body>
</html>
`;
}
