CREATE TABLE `client_tokens` (
	`account_id` text NOT NULL,
	`operation` text NOT NULL,
	`token` text NOT NULL,
	`request_hash` text NOT NULL,
	`resource_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `operation`, `token`)
);
--> statement-breakpoint
CREATE INDEX `client_tokens_created` ON `client_tokens` (`created_at`);--> statement-breakpoint
CREATE TABLE `hosts` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`availability_zone` text NOT NULL,
	`address` text,
	`runtimes` text NOT NULL,
	`accel` text NOT NULL,
	`vcpus` integer NOT NULL,
	`memory_mib` integer NOT NULL,
	`state` text NOT NULL,
	`boot_id` text,
	`heartbeat_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `hosts_name` ON `hosts` (`name`);--> statement-breakpoint
CREATE TABLE `signing_keys` (
	`name` text PRIMARY KEY NOT NULL,
	`key` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `instances` ADD `host_id` text;--> statement-breakpoint
CREATE INDEX `instances_host_state` ON `instances` (`host_id`,`state`);--> statement-breakpoint
ALTER TABLE `vpcs` ADD `vni` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `vpcs_vni` ON `vpcs` (`vni`);