ALTER TABLE "volumes" ADD COLUMN "host_id" text;--> statement-breakpoint
ALTER TABLE "volumes" ADD COLUMN "move_to" text;--> statement-breakpoint
ALTER TABLE "volumes" ADD COLUMN "move_at" bigint;--> statement-breakpoint
ALTER TABLE "volumes" ADD COLUMN "move_source" text;