/**
 * The deployer soak's verdict on memory is the slope of its RSS over the
 * second half of the runs: it must read a steady climb as growth and a
 * level (or noisy but flat) series as none.
 */
import { describe, expect, it } from "vitest";
import { slope } from "../../../bench/stats";

describe("slope", () => {
    it("is the step of a straight line", () => {
        expect(slope([100, 102, 104, 106, 108])).toBeCloseTo(2, 10);
        expect(slope([50, 40, 30])).toBeCloseTo(-10, 10);
    });

    it("is 0 for a level series, and near 0 for noise around a level", () => {
        expect(slope([300, 300, 300, 300])).toBe(0);
        expect(Math.abs(slope([300, 302, 299, 301, 300, 302, 299, 301]))).toBeLessThan(0.2);
    });

    it("fits the trend, not the ends: one high sample does not make growth", () => {
        // A peak early in the window and the same level at both ends.
        expect(slope([300, 340, 300, 300, 300, 300])).toBeLessThan(0);
        expect(slope([300, 301, 302, 303, 304, 280])).toBeLessThan(slope([300, 301, 302, 303, 304, 305]));
    });

    it("is NaN for fewer than two values (no trend to read)", () => {
        expect(slope([])).toBeNaN();
        expect(slope([42])).toBeNaN();
    });
});
