// Preloaded into every replica (node --import). Replicas run in their own process group, so a
// supervisor killed with SIGKILL cannot take them along: each notices that its parent is gone
// (it is re-parented) and drains itself with SIGTERM, as if the supervisor had asked.
const parent = process.ppid;
const timer = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(timer);
  process.kill(process.pid, 'SIGTERM');
}, 1000);
timer.unref();
