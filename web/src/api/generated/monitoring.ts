// The monitoring service's API, generated from its OpenAPI by `make api-types`: do not edit.
// Friendly names for these types are in ../types.ts.

export interface paths {
    "/api/consumption/day": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read Day
         * @description A day's 24 UTC hours of kWh (zero where there is no data) and the day's total.
         */
        get: operations["read_day_api_consumption_day_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/consumption/range": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read Range
         * @description kWh per hour or per UTC day from `start` to `end` (inclusive), zero-filled.
         */
        get: operations["read_range_api_consumption_range_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/consumption/export.csv": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Export Csv
         * @description The same figures as `/range`, as a CSV download.
         */
        get: operations["export_csv_api_consumption_export_csv_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/consumption/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read Alerts
         * @description Overconsumption alerts, newest first, paged.
         */
        get: operations["read_alerts_api_consumption_alerts_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** AlertPage */
        AlertPage: {
            /** Items */
            items: components["schemas"]["AlertRead"][];
            /** Total */
            total: number;
            /** Page */
            page: number;
            /** Size */
            size: number;
        };
        /** AlertRead */
        AlertRead: {
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Device Id
             * Format: uuid
             */
            device_id: string;
            /** Device Name */
            device_name: string | null;
            /**
             * Kind
             * @enum {string}
             */
            kind: "hourly" | "reading";
            /**
             * Hour
             * Format: date-time
             */
            hour: string;
            /** Kwh */
            kwh: number;
            /** Limit Kwh */
            limit_kwh: number;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
        };
        /** DayConsumption */
        DayConsumption: {
            /** Device Id */
            device_id: string | null;
            /**
             * Date
             * Format: date
             */
            date: string;
            /**
             * Unit
             * @default kWh
             * @constant
             */
            unit?: "kWh";
            /** Hours */
            hours: components["schemas"]["HourValue"][];
            /** Total Kwh */
            total_kwh: number;
        };
        /** HTTPValidationError */
        HTTPValidationError: {
            /** Detail */
            detail?: components["schemas"]["ValidationError"][];
        };
        /** HourValue */
        HourValue: {
            /**
             * Hour
             * Format: date-time
             */
            hour: string;
            /** Kwh */
            kwh: number;
        };
        /** RangeConsumption */
        RangeConsumption: {
            /** Device Id */
            device_id: string | null;
            /**
             * Start
             * Format: date
             */
            start: string;
            /**
             * End
             * Format: date
             */
            end: string;
            /**
             * Bucket
             * @enum {string}
             */
            bucket: "hour" | "day";
            /**
             * Unit
             * @default kWh
             * @constant
             */
            unit?: "kWh";
            /** Points */
            points: components["schemas"]["RangePoint"][];
            /** Total Kwh */
            total_kwh: number;
        };
        /** RangePoint */
        RangePoint: {
            /**
             * Start
             * Format: date-time
             */
            start: string;
            /** Kwh */
            kwh: number;
        };
        /** ValidationError */
        ValidationError: {
            /** Location */
            loc: (string | number)[];
            /** Message */
            msg: string;
            /** Error Type */
            type: string;
            /** Input */
            input?: unknown;
            /** Context */
            ctx?: Record<string, never>;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    read_day_api_consumption_day_get: {
        parameters: {
            query: {
                date: string;
                /** @description one device; omitted: all devices the caller may see */
                device_id?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DayConsumption"];
                };
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    read_range_api_consumption_range_get: {
        parameters: {
            query: {
                start: string;
                /** @description inclusive */
                end: string;
                bucket?: "hour" | "day";
                /** @description one device; omitted: all devices the caller may see */
                device_id?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RangeConsumption"];
                };
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    export_csv_api_consumption_export_csv_get: {
        parameters: {
            query: {
                start: string;
                /** @description inclusive */
                end: string;
                bucket?: "hour" | "day";
                /** @description one device; omitted: all devices the caller may see */
                device_id?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    read_alerts_api_consumption_alerts_get: {
        parameters: {
            query?: {
                /** @description one device; omitted: all devices the caller may see */
                device_id?: string | null;
                page?: number;
                size?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertPage"];
                };
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
}
