// The admin API's response shapes, as JSON (dates are ISO strings).

export interface Count {
  readonly value: number
  readonly kind: "exact" | "atLeast" | "estimate"
}

export interface OverviewResponse {
  readonly overview: {
    readonly pending: Count
    readonly dueNow: Count
    readonly inFlight: Count
    readonly waitingForRetry: Count
    readonly dead: Count
    readonly parkedKeys: Count
    readonly oldestPendingAgeMillis: number | null
  }
  readonly readiness: { readonly ready: boolean; readonly reason: string }
}

export interface Point {
  readonly at: number
  readonly delivered: number
  readonly failed: number
  readonly deadLettered: number
  readonly lagMillis: number | null
}

export interface SeriesResponse {
  readonly points: ReadonlyArray<Point>
  readonly topics: ReadonlyArray<string>
}

export interface Relay {
  readonly relayId: string
  readonly host: string
  readonly pid: number
  readonly claimMode: string
  readonly batchSize: number
  readonly concurrency: number
  readonly ordered: string
  readonly state: string
  readonly startedAt: string
  readonly lastBatchAt: string | null
  readonly sent: number
  readonly retried: number
  readonly deadLettered: number
  readonly lastSeen: string
  readonly lastSeenSecondsAgo: number
}

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly next: string | null
}

export interface DeadLetterRow {
  readonly id: string
  readonly topic: string
  readonly key: string | null
  readonly attempts: number
  readonly reason: string
  readonly lastError: string
  readonly createdAt: string
  readonly deadAt: string
  readonly parksKey: boolean
}

export interface WaitingMessage {
  readonly id: string
  readonly topic: string
  readonly key: string | null
  readonly attempts: number
  readonly state: "due" | "inFlight" | "retrying" | "delayed"
  readonly createdAt: string
  readonly availableAt: string
  readonly lastError: string | null
}

export interface MessageDetail {
  readonly id: string
  readonly topic: string
  readonly key: string | null
  readonly payload: unknown
  readonly headers: Readonly<Record<string, string>>
  readonly attempts: number
  readonly createdAt: string
  readonly availableAt: string
  readonly lastError: string | null
  readonly reason?: string
  readonly deadAt?: string
  readonly parksKey?: boolean
}

export interface ParkedKey {
  readonly key: string
  readonly messageId: string
  readonly topic: string
  readonly reason: string
  readonly lastError: string
  readonly since: string
}
