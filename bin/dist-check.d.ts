/** Why dist/ under `root` (the package's root by default) cannot be run, or undefined when it is fresh. */
export function distProblem(root?: string): string | undefined;
/** Exits with one line when dist/ is missing or stale. */
export function requireFreshDist(): void;
