/**
 * The documents of the HTTP API, built by pure views: what sagactl (and the web console)
 * read and render without loading fastify or the server.
 */
export {
  historyEntry, instanceDocument, instanceSummary, isoTime, statsDocument, timerDocument,
  type CompensationDocument, type HistoryEntryDocument, type InstanceDocument, type InstanceSummaryDocument, type StatsDocument,
  type StepDocument, type TimerDocument,
} from './views.js';
export { definitionDetail, definitionSummary, type DefinitionDetail, type DefinitionSummary, type StepDetail } from './definition-view.js';
export { deadLetterDocument, deadLetterSummaryDocument, type DeadLetterDocument, type DeadLetterSummaryDocument } from './dead-letter-view.js';
export {
  durationsDocument, versionsDocument, type DurationDocument, type DurationsDocument, type VersionDocument, type VersionsDocument,
} from './insight-views.js';
