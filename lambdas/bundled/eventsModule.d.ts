/**
 * The specifier the bundled entry points import the Events module by. It exists only at bundle time:
 * the construct passes `--alias:@gateway-backend/events=<the user's module, or lambdas/defaultEvents.ts>`
 * to esbuild. Untyped on purpose: the module is the user's, and resolveEvents() checks its exports.
 */
declare module '@gateway-backend/events';
