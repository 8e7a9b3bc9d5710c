// The real TestCollector of @opentelemetry/contrib-test-utils, driven by
// test_otel_collector.py over stdin/stdout: it prints {"port": N} once
// listening, then answers each line "spans" with the spans received so far
// as one JSON line, and exits on "close" or end of input.
'use strict';
const readline = require('readline');
const { TestCollector } = require('@opentelemetry/contrib-test-utils');

async function main() {
  const c = new TestCollector();
  await c.start();
  const port = Number(new URL(c.endpointUrl).port);
  process.stdout.write(JSON.stringify({ port }) + '\n');
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line === 'spans') {
      process.stdout.write(JSON.stringify(c.spans) + '\n');
    } else if (line === 'close') {
      break;
    }
  }
  c.close();
  process.exit(0);
}

main().catch(e => { console.error(e); process.exit(1); });
