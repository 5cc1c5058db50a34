// Unit specs sit next to the code (src/**/*.spec.ts); e2e suites live in test/ (*.e2e-spec.ts).
const common = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testEnvironment: 'node',
  rootDir: '.',
};
// The e2e project's global set-up (compile src/, probe PostgreSQL and Redis) runs only when an e2e
// suite is selected: `npm run test:unit` needs neither.
module.exports = {
  testTimeout: 30000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      slowTestThreshold: 30,
    },
  ],
};
