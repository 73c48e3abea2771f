/**
 * A background pass run on a timer and on demand: one pass at a time, a wake
 * during a pass runs one more after it, a failed pass is logged and the next
 * one tries again. Webhook deliveries and run outcomes both work this way.
 */
export class PassLoop {
    private timer?: NodeJS.Timeout;
    private running: Promise<void> = Promise.resolve();
    private busy = false;
    private again = false;
    private stopped = true;

    private readonly pass: () => Promise<void>;
    private readonly onError: (err: unknown) => void;

    constructor(pass: () => Promise<void>, onError: (err: unknown) => void) {
        this.pass = pass;
        this.onError = onError;
    }

    start(everyMs: number): void {
        this.stopped = false;
        this.timer = setInterval(() => this.wake(), everyMs);
        this.wake();
    }

    /** Runs a pass now, or once more after the one in progress. */
    wake(): void {
        if (this.stopped) return;
        if (this.busy) {
            this.again = true;
            return;
        }
        this.busy = true;
        this.running = this.pass()
            .catch(this.onError)
            .finally(() => {
                this.busy = false;
                if (this.again) {
                    this.again = false;
                    this.wake();
                }
            });
    }

    /** Stops the timer and waits for the pass in progress. */
    async stop(): Promise<void> {
        this.stopped = true;
        clearInterval(this.timer);
        await this.running;
    }
}
