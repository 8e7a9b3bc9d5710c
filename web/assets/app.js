// The dashboard.
export {};
