import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode, type Counter, type Histogram, type Meter, type Tracer } from '@opentelemetry/api';
import type { Article } from '../core/catalogue.js';
import { seededRandom, TOPICS } from '../core/catalogue.js';
import type { Assignment } from '../core/experiments.js';
import { rankArticles, type Visitor } from '../core/ranking.js';
import type { ContentStore } from '../store/content-store.js';
import type { ExperimentService } from './experiment-service.js';
import { createHash } from 'node:crypto';

/** One served recommendation. */
export interface Recommendation {
  readonly contentId: string;
  readonly title: string;
  readonly url: string;
  readonly position: number;
  readonly topic: string;
  readonly summary: string;
}

/** The body of `GET /api/recommendations`. */
export interface RecommendationResponse {
  readonly requestId: string;
  readonly experiments: Readonly<Record<string, string>>;
  readonly baggage: Readonly<Record<string, string>>;
  /** The `recommendation.request` span, so a click can link to it. */
  readonly trace: { readonly traceId: string; readonly spanId: string } | null;
  readonly recommendations: readonly Recommendation[];
}

const REQUEST_ID_BYTES = 16;
/** Millisecond buckets from sub-millisecond cache hits to multi-second stalls. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
const FEATURE_FLAG_PROVIDER = 'variant-lens';
/** The experiments whose variants choose the algorithm and the re-ranking, by baggage key. */
const ALGORITHM_BAGGAGE_KEY = 'experiment.rec_algorithm';
const BOOST_BAGGAGE_KEY = 'experiment.ranking_boost';

/** Article page URL for a content id. */
export function articleUrl(contentId: string): string {
  return `/articles/${encodeURIComponent(contentId)}`;
}

/** A visitor's topic preferences, derived deterministically from the id (no stored profile yet). */
function visitorProfile(userId: string): Visitor {
  const seed = createHash('sha256').update(userId).digest().readUInt32BE(0);
  const random = seededRandom(seed);
  const topicAffinity: Record<string, number> = {};
  for (const topic of TOPICS) topicAffinity[topic] = random() ** 2;
  return { topicAffinity, seen: new Set() };
}

/** Serves recommendations and records the request span and the experiment metrics. */
export class RecommendationService {
  private readonly articles: readonly Article[];
  private readonly impressions: Counter;
  private readonly latency: Histogram;

  constructor(
    private readonly content: ContentStore,
    private readonly experiments: ExperimentService,
    private readonly tracer: Tracer,
    meter: Meter,
  ) {
    this.articles = content.allArticles();
    this.impressions = meter.createCounter('recommendation.impressions', {
      description: 'Number of recommendations shown to users',
    });
    this.latency = meter.createHistogram('recommendation.latency', {
      description: 'Time to generate recommendations',
      unit: 'ms',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
    });
  }

  recommend(userId: string, limit: number, assignment: Assignment): RecommendationResponse {
    const started = performance.now();
    const requestId = randomBytes(REQUEST_ID_BYTES).toString('base64url');
    const span = this.tracer.startSpan('recommendation.request', {
      kind: SpanKind.INTERNAL,
      attributes: { ...assignment.baggage, 'user.id': userId, 'recommendation.request_id': requestId },
    });
    try {
      for (const experiment of this.experiments.experiments) {
        const variant = assignment.experiments[experiment.key];
        if (variant === undefined) continue;
        // Feature-flag semantic conventions: one evaluation event per experiment decided here.
        span.addEvent('feature_flag.evaluation', {
          'feature_flag.key': experiment.key,
          'feature_flag.result.variant': variant,
          'feature_flag.provider.name': FEATURE_FLAG_PROVIDER,
          'feature_flag.result.reason': assignment.reasons[experiment.key] ?? 'unknown',
        });
      }
      if (Object.values(assignment.reasons).includes('targeting_match')) span.setAttribute('experiment.forced', true);
      const algorithm = this.experiments.variantOf(assignment, ALGORITHM_BAGGAGE_KEY) ?? 'control';
      const boost = this.experiments.variantOf(assignment, BOOST_BAGGAGE_KEY) ?? 'control';
      const ranked = rankArticles(this.articles, visitorProfile(userId), algorithm, boost, limit, Date.now());
      const recommendations = ranked.map((article, index) => ({
        contentId: article.contentId,
        title: article.title,
        url: articleUrl(article.contentId),
        position: index + 1,
        topic: article.topic,
        summary: article.summary,
      }));
      span.setAttribute('recommendation.count', recommendations.length);
      const metricAttributes = this.experiments.metricAttributes(assignment.baggage);
      this.impressions.add(recommendations.length, metricAttributes);
      this.latency.record(performance.now() - started, metricAttributes);
      const context = span.spanContext();
      return {
        requestId,
        experiments: assignment.experiments,
        baggage: assignment.baggage,
        trace: span.isRecording() ? { traceId: context.traceId, spanId: context.spanId } : null,
        recommendations,
      };
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  }

  getArticle(contentId: string): Article | undefined {
    return this.content.getArticle(contentId);
  }
}
