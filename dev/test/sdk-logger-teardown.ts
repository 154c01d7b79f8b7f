import { afterAll } from '@jest/globals';

// @dapr/dapr's index loads http-terminator, whose logger (roarr) keeps its state on globalThis
// and listens for 'error' on process.stdout. Jest gives every test file a fresh global but one
// process.stdout per worker, so each file that loads the SDK left one more listener behind (a
// MaxListenersExceededWarning after ten). roarr's own teardown removes it when the file is done.
afterAll(() => {
  (globalThis as { ROARR?: { teardown?: () => void } }).ROARR?.teardown?.();
});
