CREATE TABLE "events" (
	"seq" bigint NOT NULL,
	"time" bigint NOT NULL,
	"account_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"kind" text NOT NULL,
	"code" text NOT NULL,
	"previous" text,
	"message" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "events_seq" ON "events" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "events_instance" ON "events" USING btree ("instance_id","seq");--> statement-breakpoint
CREATE INDEX "events_time" ON "events" USING btree ("time");