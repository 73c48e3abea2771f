/** Tells listeners (SSE streams, waiters) in this process that a run changed: new events or a new status. */
import { EventEmitter } from "node:events";

export class RunBus extends EventEmitter {
    constructor() {
        super();
        this.setMaxListeners(0);
    }

    changed(runId: string): void {
        this.emit(runId);
        this.emit("*", runId);
    }
}
