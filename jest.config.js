export default {
  projects: ['<rootDir>/packages/*', '<rootDir>/services/*', '<rootDir>/dev', '<rootDir>/test'],
};
