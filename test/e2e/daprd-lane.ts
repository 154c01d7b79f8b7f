// Loaded before each test file of the daprd system lane (test/jest.daprd.config.js): stacks
// then start with `--sidecar daprd`.
process.env.SIDECART_E2E_SIDECAR = 'daprd';
