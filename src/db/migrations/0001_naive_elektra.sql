CREATE TABLE `addresses` (
	`allocation_id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`public_ip` text NOT NULL,
	`instance_id` text,
	`network_interface_id` text,
	`private_ip` text,
	`association_id` text,
	`nat_gateway_id` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `addresses_public_ip` ON `addresses` (`public_ip`);--> statement-breakpoint
CREATE INDEX `addresses_account` ON `addresses` (`account_id`);--> statement-breakpoint
CREATE INDEX `addresses_instance` ON `addresses` (`instance_id`);--> statement-breakpoint
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
CREATE TABLE `nat_gateways` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`vpc_id` text NOT NULL,
	`subnet_id` text NOT NULL,
	`connectivity_type` text NOT NULL,
	`allocation_id` text,
	`private_ip` text NOT NULL,
	`network_interface_id` text NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`deleted_at` integer
);
--> statement-breakpoint
CREATE INDEX `nat_gateways_account` ON `nat_gateways` (`account_id`);--> statement-breakpoint
CREATE TABLE `route_table_associations` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`vpc_id` text NOT NULL,
	`route_table_id` text NOT NULL,
	`subnet_id` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `route_table_associations_subnet` ON `route_table_associations` (`subnet_id`);--> statement-breakpoint
CREATE INDEX `route_table_associations_table` ON `route_table_associations` (`route_table_id`);--> statement-breakpoint
CREATE TABLE `route_tables` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`vpc_id` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `route_tables_vpc` ON `route_tables` (`vpc_id`);--> statement-breakpoint
CREATE TABLE `routes` (
	`route_table_id` text NOT NULL,
	`destination` text NOT NULL,
	`gateway_id` text,
	`nat_gateway_id` text,
	`instance_id` text,
	`network_interface_id` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`route_table_id`, `destination`)
);
--> statement-breakpoint
ALTER TABLE `functions` ADD `layers` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `functions` ADD `reserved_concurrency` integer;