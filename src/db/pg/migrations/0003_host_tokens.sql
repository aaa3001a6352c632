CREATE TABLE "host_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"availability_zone" text,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"used_at" bigint,
	"host_name" text,
	"key_hash" text
);
--> statement-breakpoint
CREATE UNIQUE INDEX "host_tokens_token" ON "host_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "host_tokens_key" ON "host_tokens" USING btree ("key_hash");