// Loaded before each test file of the daprd lane (dev/jest.daprd.config.js): the harness then
// starts daprd where the dev lane starts the dev sidecar.
process.env.SIDECART_SIDECAR_TARGET = 'daprd';
