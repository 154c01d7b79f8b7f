/** Every problem found in the resources folders, one per line, so a developer fixes them in one go. */
export class ResourceError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Dapr resources are invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ResourceError';
    this.problems = problems;
  }
}
