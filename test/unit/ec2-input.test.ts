/** EC2 requests against the model's input shape: required members are found in one pass over the parameters. */
import { describe, expect, it } from 'vitest';
import { checkInput } from '../../src/api/ec2/input.js';
import { MAX_LIST } from '../../src/api/ec2/query.js';
import { inputNode } from '../../src/api/model/compile.js';
import { serviceModel } from '../../src/api/model/index.js';
import { CloudError } from '../../src/cloud/errors.js';

const model = serviceModel('ec2-2016-11-15');
const run = inputNode(model, model.operations.get('RunInstances')!);
const codeOf = (params: [string, string][]) => {
  try {
    checkInput(run, params);
    return 'ok';
  } catch (err) {
    return err instanceof CloudError ? err.code : String(err);
  }
};
const base: [string, string][] = [['ImageId', 'ami-1'], ['MinCount', '1'], ['MaxCount', '1']];

describe('EC2 input checks', () => {
  it('find a structure\'s required members among many parameters (a nested one missing is MissingParameter)', () => {
    const many: [string, string][] = Array.from({ length: MAX_LIST }, (_, i) => [`TagSpecification.${i + 1}.ResourceType`, 'instance']);
    expect(codeOf([...base, ...many])).toBe('ok');
    expect(codeOf([...base, ['ElasticGpuSpecification.1.Type', 'x'], ['ElasticGpuSpecification.2.Foo', 'x']])).toBe('UnknownParameter');
    expect(codeOf([['MinCount', '1'], ['MaxCount', '1']])).toBe('ok');
    expect(codeOf([...base, ...many, ['ElasticInferenceAccelerator.1.Type', 'eia1.medium'], ['ElasticInferenceAccelerator.2.Count', '1']])).toBe('MissingParameter');
    expect(codeOf([...base, ['Monitoring.Enabled', 'true'], ['CreditSpecification.CpuCredits', 'standard']])).toBe('ok');
    expect(codeOf([...base, ['Monitoring.Enabled', 'maybe']])).toBe('InvalidParameterValue');
  });
});
