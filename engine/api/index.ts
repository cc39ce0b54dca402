/** The HTTP API: a fastify app built over the engine port, and the documents it returns. */
export { buildApi, type ApiOptions } from './app.js';
export { ApiError, ApiErrorCode, describeError, errorBody, statusOfCode, type ErrorBody } from './errors.js';
export {
  historyEntry, instanceDocument, instanceSummary, isoTime, timerDocument,
  type CompensationDocument, type HistoryEntryDocument, type InstanceDocument, type InstanceSummaryDocument, type StepDocument, type TimerDocument,
} from './views.js';
export { definitionDetail, definitionSummary, type DefinitionDetail, type DefinitionSummary, type StepDetail } from './definition-view.js';
export { deadLetterDocument, type DeadLetterDocument } from './dead-letter-view.js';
export { metricsContentType } from './routes-health.js';
export { statsDocument, type StatsDocument } from './routes-stats.js';
