import http from 'node:http';

// The app behind the callee sidecar: answers every request with a small JSON body, like a cheap
// internal route. The same process serves the direct and the invoked calls.
const body = JSON.stringify({ ok: true, service: 'echo' });
http
  .createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
