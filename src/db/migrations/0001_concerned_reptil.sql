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
