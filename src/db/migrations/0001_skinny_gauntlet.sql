CREATE TABLE `function_aliases` (
	`account_id` text NOT NULL,
	`function_name` text NOT NULL,
	`name` text NOT NULL,
	`version` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`extra_version` text,
	`extra_weight` real,
	`revision` text NOT NULL,
	`url_id` text,
	`url_auth` text,
	`url_created_at` integer,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `function_name`, `name`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `function_aliases_url` ON `function_aliases` (`url_id`);--> statement-breakpoint
CREATE TABLE `function_policies` (
	`account_id` text NOT NULL,
	`function_name` text NOT NULL,
	`qualifier` text NOT NULL,
	`statements` text NOT NULL,
	`revision` text NOT NULL,
	PRIMARY KEY(`account_id`, `function_name`, `qualifier`)
);
--> statement-breakpoint
ALTER TABLE `functions` ADD `reserved_concurrency` integer;