CREATE TABLE `host_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`token_hash` text NOT NULL,
	`availability_zone` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`host_name` text,
	`key_hash` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `host_tokens_token` ON `host_tokens` (`token_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `host_tokens_key` ON `host_tokens` (`key_hash`);