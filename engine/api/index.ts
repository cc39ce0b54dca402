/** The HTTP API: a fastify app built over the engine port, and the documents it returns. */
export { buildApi, type ApiOptions } from './app.js';
export { ApiError, ApiErrorCode, describeError, errorBody, statusOfCode, type ErrorBody } from './errors.js';
export * from './documents.js';
export { metricsContentType } from './routes-health.js';
