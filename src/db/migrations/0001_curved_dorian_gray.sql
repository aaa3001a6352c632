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
CREATE TABLE `lambda_layer_versions` (
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`compatible_runtimes` text NOT NULL,
	`compatible_architectures` text NOT NULL,
	`license_info` text,
	`code_sha256` text NOT NULL,
	`digest` text NOT NULL,
	`code_size` integer NOT NULL,
	`unzipped_size` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `name`, `version`)
);
--> statement-breakpoint
CREATE INDEX `lambda_layer_versions_digest` ON `lambda_layer_versions` (`digest`);--> statement-breakpoint
CREATE TABLE `lambda_layers` (
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`last_version` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`account_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `launch_template_versions` (
	`template_id` text NOT NULL,
	`version` integer NOT NULL,
	`description` text,
	`data` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`client_token` text,
	PRIMARY KEY(`template_id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `launch_templates` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`default_version` integer NOT NULL,
	`latest_version` integer NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`client_token` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `launch_templates_name` ON `launch_templates` (`account_id`,`name`);--> statement-breakpoint
ALTER TABLE `functions` ADD `layers` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `functions` ADD `reserved_concurrency` integer;