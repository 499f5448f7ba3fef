/** The scheduler's outcomes by origin, each reported as it is set (the pass's observers see ports finish as they do). */
import type { PortOutcome } from './scheduler.js';

export function reportingOutcomes(report?: (outcome: PortOutcome) => void): Map<string, PortOutcome> {
  const outcomes = new Map<string, PortOutcome>();
  if (!report) return outcomes;
  const set = outcomes.set.bind(outcomes);
  outcomes.set = (origin, outcome) => {
    set(origin, outcome);
    report(outcome);
    return outcomes;
  };
  return outcomes;
}
