/** Absolute path of the golden fixtures folder ($FEDDIP_FIXTURES or ../shared/fixtures/torch). */
export declare const FIXTURES_DIR: string;
